"""The FastStream integration, imported only when the app is given a FastStream object.

``_asyncapi``: the AsyncAPI document of FastStream brokers, made by FastStream's own generator
(0.5.31+ and 0.7), in AsyncAPI 3.0.0 (``_convert`` turns 0.5's 2.6.0 into it; ``_merge`` joins
several brokers).
"""
