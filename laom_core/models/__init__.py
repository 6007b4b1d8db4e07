"""Plain nn.Modules: encoder, LAPO, LAOM (+ heads), BC policy, action decoder, IDM baseline."""
from laom_core.models.decoder import ActionDecoder
from laom_core.models.encoder import ImpalaEncoder
from laom_core.models.idm import ActionIDM
from laom_core.models.laom import LAOM
from laom_core.models.lapo import LAPO
from laom_core.models.policy import BCPolicy

__all__ = ["ActionDecoder", "ActionIDM", "BCPolicy", "ImpalaEncoder", "LAOM", "LAPO"]
