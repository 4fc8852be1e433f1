"""Publication, the flow's last step: the list files, the report, candidates.parquet, and the
atomic publishing of the run directory (core.run_layout names what goes where).
"""
