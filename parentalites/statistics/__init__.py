"""The statistics of the network and its yearly report (issue 12). They read every domain, so they
live in the outer ring: figures.py (the SQL), charts.py (SVG plots), report.py (the PDF), views.py."""
