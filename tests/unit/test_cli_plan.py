"""Output planning for `pixpress compress`: single files, tree mirroring, refusals, "-",
DIR/, existing outputs and what a directory walk skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pixpress._plan import (
    STDIO,
    Existing,
    Job,
    PlanError,
    Skipped,
    min_sibling,
    plan,
    plan_jobs,
    walk,
    walk_images,
)


def make(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


@pytest.fixture
def tree(tmp_path):
    make(
        tmp_path / "in",
        "a.jpg",
        "B.PNG",
        "notes.txt",
        "nested/c.webp",
        "nested/deeper/d.TIFF",
        "nested/deeper/e.heic",
        "nested/readme.md",
    )
    return tmp_path / "in"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("photo.jpg", "photo.min.jpg"), ("a.b.png", "a.b.min.png"), ("noext", "noext.min")],
)
def test_min_sibling(name, expected):
    assert min_sibling(Path("dir", name)) == Path("dir", expected)


def test_single_file_without_output_goes_next_to_it(tree):
    assert plan_jobs([tree / "a.jpg"], None) == [Job(tree / "a.jpg", tree / "a.min.jpg")]


def test_single_file_with_output_file(tree, tmp_path):
    out = tmp_path / "small.jpg"
    assert plan_jobs([tree / "a.jpg"], out) == [Job(tree / "a.jpg", out)]


def test_single_file_into_existing_directory(tree, tmp_path):
    out = tmp_path / "outdir"
    out.mkdir()
    assert plan_jobs([tree / "a.jpg"], out) == [Job(tree / "a.jpg", out / "a.jpg")]


def test_explicit_file_sent_whatever_its_extension(tree, tmp_path):
    jobs = plan_jobs([tree / "notes.txt"], tmp_path / "o.txt")
    assert [j.source for j in jobs] == [tree / "notes.txt"]


def test_directory_mirrors_nested_tree_with_image_extensions_only(tree, tmp_path):
    out = tmp_path / "out"
    jobs = plan_jobs([tree], out)
    assert [(j.source.relative_to(tree), j.destination.relative_to(out)) for j in jobs] == [
        (Path(p), Path(p))
        for p in ("B.PNG", "a.jpg", "nested/c.webp", "nested/deeper/d.TIFF", "nested/deeper/e.heic")
    ]


def test_several_inputs_mix_files_and_directories(tree, tmp_path):
    out = tmp_path / "out"
    jobs = plan_jobs([tree / "nested" / "deeper", tree / "a.jpg"], out)
    assert [j.destination for j in jobs] == [out / "d.TIFF", out / "e.heic", out / "a.jpg"]


def test_output_directory_inside_the_input_is_not_walked(tree):
    out = tree / "min"
    make(out, "old.jpg")
    jobs = plan_jobs([tree], out)
    assert all(out not in j.source.parents for j in jobs)


def test_symlinks_are_not_followed_when_walking(tree):
    (tree / "link.jpg").symlink_to(tree / "a.jpg")
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    names = [p.name for p in walk_images(tree)]
    assert "link.jpg" not in names
    assert names.count("a.jpg") == 1


@pytest.mark.parametrize(
    ("inputs", "output", "in_place", "message"),
    [
        (["in"], None, False, "several inputs or a directory need -o DIR"),
        (["in/a.jpg", "in/B.PNG"], None, False, "several inputs or a directory need -o DIR"),
        (["missing.jpg"], "out", False, "missing.jpg: no such file or directory"),
        (["in/a.jpg"], "in/a.jpg", False, "output would overwrite the input"),
        (["in/a.jpg", "in/nested/../a.jpg"], "out", False, "would both be written"),
        (["in"], "in/a.jpg", False, "exists and is not a directory"),
        (["in/a.jpg"], "out", True, "--in-place and -o/--output cannot be combined"),
    ],
)
def test_refusals(tree, tmp_path, inputs, output, in_place, message):
    paths = [tmp_path / p for p in inputs]
    with pytest.raises(PlanError, match=message):
        plan_jobs(paths, tmp_path / output if output else None, in_place=in_place)


def test_in_place_replaces_every_input(tree):
    jobs = plan_jobs([tree / "nested"], None, in_place=True)
    assert all(j.in_place and j.source == j.destination for j in jobs)
    assert len(jobs) == 3


# -- the CLI conventions: DIR/, "-", existing outputs, what a walk skips ------------------


def test_trailing_slash_means_a_directory_even_when_missing(tree, tmp_path):
    out = tmp_path / "made"
    planned = plan([str(tree / "a.jpg")], f"{out}/")
    assert planned.jobs == [Job(tree / "a.jpg", out / "a.jpg")]
    assert planned.output_directories == [out]
    assert not out.exists()  # planning writes nothing: the CLI creates it after its checks


def test_trailing_slash_on_a_file_is_refused(tree):
    with pytest.raises(PlanError, match=r"a\.jpg: exists and is not a directory"):
        plan([str(tree / "B.PNG")], f"{tree / 'a.jpg'}/")


def test_dash_reads_stdin_and_writes_stdout_unless_o_names_a_file(tmp_path):
    (job,) = plan([STDIO], None).jobs
    assert (job.from_stdin, job.to_stdout, job.input_name, job.output_name) == (
        True,
        True,
        "<stdin>",
        "<stdout>",
    )
    assert plan([STDIO], STDIO).jobs == [job]
    (to_file,) = plan([STDIO], str(tmp_path / "out.jpg")).jobs
    assert (to_file.from_stdin, to_file.to_stdout, to_file.destination) == (
        True,
        False,
        tmp_path / "out.jpg",
    )


def test_dash_output_writes_one_file_to_stdout(tree):
    (job,) = plan([str(tree / "a.jpg")], STDIO).jobs
    assert (job.source, job.to_stdout, job.from_stdin) == (tree / "a.jpg", True, False)


def test_a_file_named_dash_is_reached_as_dot_slash_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("-").write_bytes(b"x")
    (job,) = plan(["./-"], "out.jpg").jobs
    assert (job.source, job.from_stdin) == (Path("-"), False)


@pytest.mark.parametrize(
    ("inputs", "output", "in_place", "message"),
    [
        (["-", "in/a.jpg"], None, False, "must be the only input"),
        (["-"], None, True, "cannot be compressed --in-place"),
        (["-"], "out/", False, "standard input has no name"),
        (["in"], "-", False, "takes one input file"),
        (["in/a.jpg", "in/B.PNG"], "-", False, "takes one input file"),
    ],
)
def test_stdio_refusals(tree, tmp_path, monkeypatch, inputs, output, in_place, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError, match=message):
        plan(inputs, output, in_place=in_place)


def test_existing_outputs_are_refused_by_default_naming_the_output(tree, tmp_path):
    out = tmp_path / "out"
    make(out, "a.jpg", "nested/c.webp")
    with pytest.raises(PlanError) as raised:
        plan([tree], out)
    message = str(raised.value)
    assert message.startswith(f"{out / 'a.jpg'}: output exists (and 1 more)")
    assert "--force" in message and "--skip-existing" in message


def test_existing_outputs_skipped_or_overwritten_as_asked(tree, tmp_path):
    out = tmp_path / "out"
    make(out, "a.jpg")
    skipped = plan([tree], out, existing=Existing.SKIP)
    assert out / "a.jpg" not in [j.destination for j in skipped.jobs]
    assert len(skipped.jobs) == 4
    assert Skipped(tree / "a.jpg", "output exists", out / "a.jpg") in skipped.skipped
    overwritten = plan([tree], out, existing=Existing.OVERWRITE)
    assert len(overwritten.jobs) == 5


def test_min_sibling_that_exists_is_refused_too(tree):
    make(tree, "a.min.jpg")
    with pytest.raises(PlanError, match=r"a\.min\.jpg: output exists;"):
        plan([str(tree / "a.jpg")], None)


def test_in_place_and_stdout_never_count_as_existing(tree):
    assert len(plan([tree], None, in_place=True).jobs) == 5
    assert len(plan([str(tree / "a.jpg")], STDIO).jobs) == 1


def test_walk_lists_what_it_skips_and_why(tree):
    (tree / "link.jpg").symlink_to(tree / "a.jpg")
    (tree / "linked-dir").symlink_to(tree / "nested", target_is_directory=True)
    os.mkfifo(tree / "pipe.png")
    skipped = {
        found.path.relative_to(tree).as_posix(): found.reason
        for found in walk(tree)
        if isinstance(found, Skipped)
    }
    assert skipped == {
        "notes.txt": "not an image",
        "nested/readme.md": "not an image",
        "link.jpg": "symlink",
        "linked-dir": "symlink",
        "pipe.png": "not a regular file",
    }
    planned = plan([tree], tree.parent / "out")
    assert sorted(s.path.name for s in planned.skipped) == sorted(
        ["notes.txt", "readme.md", "link.jpg", "linked-dir", "pipe.png"]
    )


def test_output_directories_each_once(tree, tmp_path):
    out = tmp_path / "out"
    planned = plan([tree], out)
    assert planned.output_directories == [out, out / "nested", out / "nested" / "deeper"]
