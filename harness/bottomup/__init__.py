"""Bottom-up (Associative Embedding, HigherHRNet) test-time pipeline (PROTOCOLS.md §4).

resize -> model -> aggregate (stages, flip, scales) -> grouping (NMS, top-k, tag matching, adjust, refine) ->
projection to image pixels -> COCO results.
"""
