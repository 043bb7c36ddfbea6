"""Pillar 4: the process reward functional (spec: ``rewards/SPEC.md``)."""

from lanser.rewards.functional import (
    COMPONENTS,
    ActionInfo,
    DiagnosticKey,
    Goal,
    Reward,
    State,
    TestCredit,
    advance,
    episode_return,
    episode_rewards,
    phi_diagnostics,
    phi_tests,
    potentials,
    render,
    resolved,
    step_reward,
)
from lanser.rewards.profile import (
    Profile,
    configured_profile,
    load_profile,
    profile_for_workspace,
)

__all__ = [
    "COMPONENTS",
    "ActionInfo",
    "DiagnosticKey",
    "Goal",
    "Profile",
    "Reward",
    "State",
    "TestCredit",
    "advance",
    "configured_profile",
    "episode_return",
    "episode_rewards",
    "load_profile",
    "phi_diagnostics",
    "phi_tests",
    "potentials",
    "profile_for_workspace",
    "render",
    "resolved",
    "step_reward",
]
