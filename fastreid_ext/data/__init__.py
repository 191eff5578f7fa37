"""Cross-modal data: datasets, attributes, synthetic generator, samplers, transforms, loaders."""
