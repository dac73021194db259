"""The composition root: the `smvue` CLI, `smvue up` and the demo wire core, pipeline, gateway and emulator."""
