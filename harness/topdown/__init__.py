"""Top-down geometry and inference: box -> center/scale, affine crop (cv2 and integer-exact torch), flip test,
'default' decode, rescoring, OKS-NMS, batched inference (PROTOCOLS.md §3)."""
