"""Pure calculations (CALCULATIONS.md): effective-dated parameters and DmfA contributions, exact to the cent."""

from cbss_batch.calculate.contributions import (
    Basis,
    ComputedContribution,
    ComputedDeduction,
    Employer,
    LineResult,
    cents_to_euros,
    contribution_basis,
    contributions_for_line,
    euros_to_cents,
    net_owed,
    round_cent,
    structural_reductions,
    student_contribution,
    unrelated_contribution,
)
from cbss_batch.calculate.parameters import DEFAULT, Parameters, ParameterValue, load_parameters

__all__ = [
    "DEFAULT",
    "Basis",
    "ComputedContribution",
    "ComputedDeduction",
    "Employer",
    "LineResult",
    "ParameterValue",
    "Parameters",
    "cents_to_euros",
    "contribution_basis",
    "contributions_for_line",
    "euros_to_cents",
    "load_parameters",
    "net_owed",
    "round_cent",
    "structural_reductions",
    "student_contribution",
    "unrelated_contribution",
]
