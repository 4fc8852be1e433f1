"""The floor: what every other package stands on, importing nothing of ours.

Configuration (config), settings and the offline switches (settings), the console helpers
(console), the one base of actionable errors (errors), and the layout of a published run that
its writers (flows/) and readers (service/) share (run_layout, row_index).
"""
