"""The domain calls both edges make: gRPC servicers and the HTTP app are thin adapters over
these, so a rule (quota, access, paging, the action record) is written once."""
