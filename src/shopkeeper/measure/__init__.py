"""Measure: holdouts, campaign readouts with intervals, attribution, channels."""

from __future__ import annotations

from shopkeeper.measure.attribution import MODELS, Attribution, Path, attribute
from shopkeeper.measure.campaign_data import Campaign, CampaignData, campaign_data
from shopkeeper.measure.campaigns import (
    ONLINE_CHANNELS,
    CampaignReadout,
    Redemptions,
    campaign,
    campaign_readout,
    readout_from,
)
from shopkeeper.measure.channels import (
    CHANNELS,
    CampaignRow,
    ChannelRow,
    ChannelsReport,
    Estimate,
    channels_report,
)
from shopkeeper.measure.holdouts import (
    HoldoutAssignment,
    assign_holdouts,
    holdout_expr,
    holdout_share,
    holdout_unit,
    in_holdout,
)
from shopkeeper.measure.matching import CAVEAT, Matched, matched_difference
from shopkeeper.measure.paths import PathSet, touch_paths
from shopkeeper.measure.readout import (
    Cuped,
    Difference,
    Interval,
    Readout,
    SampleRatio,
    bootstrap_interval,
    cuped,
    difference,
    readout,
    sample_ratio,
    welch,
)

__all__ = [
    "CAVEAT",
    "CHANNELS",
    "MODELS",
    "ONLINE_CHANNELS",
    "Attribution",
    "Campaign",
    "CampaignData",
    "CampaignReadout",
    "CampaignRow",
    "ChannelRow",
    "ChannelsReport",
    "Cuped",
    "Difference",
    "Estimate",
    "HoldoutAssignment",
    "Interval",
    "Matched",
    "Path",
    "PathSet",
    "Readout",
    "Redemptions",
    "SampleRatio",
    "assign_holdouts",
    "attribute",
    "bootstrap_interval",
    "campaign",
    "campaign_data",
    "campaign_readout",
    "channels_report",
    "cuped",
    "difference",
    "holdout_expr",
    "holdout_share",
    "holdout_unit",
    "in_holdout",
    "matched_difference",
    "readout",
    "readout_from",
    "sample_ratio",
    "touch_paths",
    "welch",
]
