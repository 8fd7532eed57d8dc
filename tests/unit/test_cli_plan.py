"""Output planning for `pixpress compress`: single files, tree mirroring, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pixpress._plan import Job, PlanError, min_sibling, plan_jobs, walk_images


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
