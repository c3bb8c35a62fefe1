"""The node runtime: the controller that composes features, the feature contract, and the
node services several features share (schedule cache, link to the core)."""
