"""Sphinx configuration of the airflow-gradient documentation (``make docs``).

Sphinx, as the Apache Airflow providers use, with MyST-parser so the Markdown pages of this
folder are pages of the site, and autodoc for the API reference from the reST docstrings.
No extension here reaches the network: links are checked offline (``scripts/check_links.py``
and Sphinx's own missing-reference warnings, which ``make docs`` turns into errors).
"""

from __future__ import annotations

import airflow_gradient

project = "airflow-gradient"
author = "airflow-gradient maintainers"
copyright = "airflow-gradient maintainers"
release = airflow_gradient.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: heading anchors for `page.md#section` links (a missing one is a warning, so an
# error in `make docs`), and the MyST syntax the pages use.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# Not nitpicky: references to classes of other packages (Airflow, the databricks provider)
# would need their inventories, downloaded from the network. Internal references that do not
# resolve (a page, a heading anchor, a document in a toctree) are warnings, hence errors.
nitpicky = False

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autoclass_content = "class"

html_theme = "alabaster"
html_title = f"airflow-gradient {release}"
html_static_path: list[str] = []
