"""OKX's published proofs: V1 inclusion paths, V2 user files and full trees (rules in `rules`)."""

from por.liabilities.foreign.okx.proofs import (
                                                OkxV1Proof,
                                                OkxV2User,
                                                parse_okx_v1_proof,
                                                parse_okx_v2_user,
                                                verify_okx_v1,
                                                verify_okx_v2_user,
)
from por.liabilities.foreign.okx.tree import scan_okx_v2_tree, verify_okx_v2_tree

__all__ = ["OkxV1Proof", "OkxV2User", "parse_okx_v1_proof", "parse_okx_v2_user", "verify_okx_v1",
           "verify_okx_v2_user", "scan_okx_v2_tree", "verify_okx_v2_tree"]
