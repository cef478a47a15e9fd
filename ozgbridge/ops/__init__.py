"""Operating ozgbridge: the pure decisions behind pausing, circuit breaking, rate limiting,
replaying and cancelling. The store carries these decisions out; nothing here touches SQL."""
