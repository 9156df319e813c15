"""Server-rendered pages. Reads go through selectors, writes through services; an object the
user may not see is a 404 (the selectors scope every lookup)."""
