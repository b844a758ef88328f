"""vizlog inside the training frameworks people already use.

One small module per framework, each importing its framework only when it is itself imported
(``import vizlog`` and ``import vizlog.integrations`` import none of them):

- ``vizlog.integrations.lightning``: ``VizlogLogger``, a Lightning logger;
- ``vizlog.integrations.transformers``: ``VizlogCallback``, a Hugging Face Trainer callback;
- ``vizlog.integrations.accelerate``: ``VizlogTracker``, an accelerate tracker;
- ``vizlog.integrations.ignite``: ``VizlogLogger`` and its handlers, for ignite engines.

Each talks only to ``vizlog.Logger``: what a framework hands over is turned into Logger calls,
so every backend, the fake one included, sees what the framework logged.
"""
