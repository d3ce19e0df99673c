"""The shared bottom layer: values, errors and the API base every app builds on.

It imports nothing of ours (import-linter checks it), so any app may use it."""
