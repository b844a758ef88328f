"""``ProjectorConfig`` for a run written by tensorboardX without tensorboard installed.

The message is TensorBoard's own (``tensorboard/plugins/projector/projector_config.proto``),
rebuilt here from its serialised descriptor in a private pool, so that it never clashes with
tensorboard's module if both are loaded.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pool, message_factory

_SERIALIZED = (
    b'\n4tensorboard/plugins/projector/proj'
    b'ector_config.proto\x12\x15tensorboard.proj'
    b'ector">\n\x0eSpriteMetadata\x12\x12\n\nimage_pat'
    b'h\x18\x01 \x01(\t\x12\x18\n\x10single_image_dim\x18\x02 \x03(\r"\xb5\x01'
    b'\n\rEmbeddingInfo\x12\x13\n\x0btensor_name\x18\x01 \x01(\t'
    b'\x12\x15\n\rmetadata_path\x18\x02 \x01(\t\x12\x16\n\x0ebookmarks'
    b'_path\x18\x03 \x01(\t\x12\x14\n\x0ctensor_shape\x18\x04 \x03(\r\x125\n'
    b'\x06sprite\x18\x05 \x01(\x0b2%.tensorboard.projecto'
    b'r.SpriteMetadata\x12\x13\n\x0btensor_path\x18\x06 \x01('
    b'\t"\x88\x01\n\x0fProjectorConfig\x12\x1d\n\x15model_check'
    b'point_path\x18\x01 \x01(\t\x128\n\nembeddings\x18\x02 \x03(\x0b'
    b'2$.tensorboard.projector.EmbeddingIn'
    b'fo\x12\x1c\n\x14model_checkpoint_dir\x18\x03 \x01(\tb\x06pr'
    b'oto3'
)

_pool = descriptor_pool.DescriptorPool()
_pool.AddSerializedFile(_SERIALIZED)
ProjectorConfig: Any = message_factory.GetMessageClass(
    _pool.FindMessageTypeByName("tensorboard.projector.ProjectorConfig")
)
