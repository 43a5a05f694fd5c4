"""The station's live web view (``--web``): a read-only page and JSON API served from
the station's own process, with no external assets."""
