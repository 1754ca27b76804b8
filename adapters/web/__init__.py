"""The browser side: the console's pages (and, beside them, the browser sandbox)."""
