"""Data: image decoding, COCO-style / Horse-10 instance loading, detection boxes, data layout."""
