"""Planning's pages: `pages` (the plan workspace and the dashboard) and `parcel` (the parcel panel and its forms)."""
