"""The ops dashboard at /ops: server-rendered Chinese pages with inline SVG charts."""
