"""A Databricks job's clusters: one path notation (:mod:`.paths`), which cluster a project tunes
(:mod:`.locate`), merging a recommendation (:mod:`.merge`), what changed (:mod:`.diff`), whether
Databricks accepts a spec (:mod:`.spec`) and what to send to ``jobs/update`` (:mod:`.update`).

Import from the modules themselves; this package re-exports nothing. Its constants live with
their rule (the tags in :mod:`.locate` and :mod:`.merge`, the sizing forms, clouds and log
destinations in :mod:`.spec`); it never imports :mod:`airflow_gradient.core.recommendation`.
"""
