"""One function per criterion: the rule, its article, and the evidence an official reads.

Each function returns `Verdicts` over all firms. Rules are applied in order and the first one
that matches a firm decides it (see `Verdicts.decide`). Every threshold comes from the config.

- `article11`: Article 11 (general conditions) and Article 20 (the ban);
- `annex1`: Annex 1 (专精特新中小企业) rules of its own;
- `annex2`: Annex 2 (专精特新“小巨人”企业) rules of its own;
- `both_annexes`: rules both annexes apply with their own thresholds, and their helpers.
"""
