"""Planning's pages: `pages` (the plan workspace) and `parcel` (the parcel panel and its forms)."""
