"""The station, in four rooms that run at different times on different threads:

* ``setup/``: what the operator said, merged and checked once at start;
* ``plan/``: what each board gets, worked out in worker threads, once per board;
* ``engine/``: pure, on the loop, per frame: every board's session and the policies;
* ``run``: the station loop that joins them over a link from ``nitools.wire``.

Each imports only the rooms below it in this list (``run`` > ``setup`` > ``plan`` >
``engine``); ``lint-imports`` checks it."""
