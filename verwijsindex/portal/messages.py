"""Message ids the portal shows that are not literal in a template: form errors chosen in
the routes, statuses, reasons and the consent vocabulary. Marked here so that Babel's
extraction finds them (``pybabel extract -k N_``); the templates translate them with
``_(value)``."""

from __future__ import annotations


def N_(message: str) -> str:
    return message


FORM_ERRORS = [
    N_("Choose a position from the list."),
    N_("Give at least one sector a position."),
    N_("Give each position to one sector only."),
    N_("The covenant was changed at the same moment. Try again."),
    N_("Enter a period of at least one hour."),
    N_("Enter a period of at most five years, for example P5Y."),
    N_("Enter a period of at most a year."),
    N_("Enter a period such as P2D (two days) or PT12H (twelve hours)."),
    N_("Enter a month as YYYY-MM."),
    N_("Choose a measure from the list."),
    N_("Ask for at most 60 months, the first not after the last."),
    N_("Choose why informing is postponed."),
    N_("Enter the day to look again."),
    N_("Enter a day after today and before the registration ends."),
    N_("An account with this e-mail address exists."),
    N_("Choose a reason."),
    N_("Choose a role."),
    N_("Choose at least one kind of data."),
    N_("Choose how it was recorded."),
    N_("Choose the direction."),
    N_("Choose the other organisation."),
    N_("Choose the purpose."),
    N_("Choose what was decided."),
    N_("Choose who decided."),
    N_("Enter a birth date in the past of a youth younger than 23."),
    N_("Enter a name of 1 to 200 characters."),
    N_("Enter a number of days from 1 to 3650."),
    N_("Enter a valid e-mail address."),
    N_("Enter a valid telephone number."),
    N_("Enter the BSN."),
    N_("Enter the URL."),
    N_("Enter the birth date."),
    N_("Enter the e-mail address."),
    N_("Enter the name."),
    N_("Enter the six-digit code from your authenticator app."),
    N_("Enter the telephone number."),
    N_("Enter the youth's birth date."),
    N_("Enter your password."),
    N_("Enter your user name."),
    N_("The registration could not be made. Try again later."),
    N_("This URL cannot receive webhooks (https, a public address)."),
    N_("This consent cannot be recorded: check who decided for the youth's age."),
    N_("This is not a valid BSN (it fails the 11-test)."),
    N_("This registration has already ended."),
    N_("You cannot deactivate your own account."),
    N_("A parent's BSN is not valid (it fails the 11-test)."),
    N_("A parent's BSN cannot be the youth's own."),
    N_("Choose a reason (closing: confirm every check)."),
    N_("This coordination action is not open to you now."),
    N_("Enter the youth's BSN and birth date as registered."),
    N_("Choose who was informed and the day (not in the future)."),
]

NAVIGATION = [
    N_("My registrations"),
    N_("Register a worry"),
    N_("My matches"),
    N_("Family matches"),
    N_("Exchange inbox"),
    N_("Professionals"),
    N_("API keys"),
    N_("Webhooks"),
]

FORM_LABELS = [N_("Decided by"), N_("How it was given")]

VALUES = [
    # registration and match statuses, withdrawal and end reasons
    N_("active"),
    N_("withdrawn"),
    N_("expired"),
    N_("ended"),
    N_("open"),
    N_("closed"),
    N_("unjustified"),
    N_("risk_resolved"),
    N_("deceased"),
    N_("other"),
    N_("erasure"),
    # coordination: statuses, reasons to decline and escalate, closure checks
    N_("proposed"),
    N_("accepted"),
    N_("escalated"),
    N_("no-capacity"),
    N_("other-better-placed"),
    N_("not-involved-enough"),
    N_("outside-mandate"),
    N_("conflict-of-interest"),
    N_("no-coordinator"),
    N_("no-progress"),
    N_("safety-concern"),
    N_("disagreement"),
    N_("beyond-mandate"),
    N_("risks-covered"),
    N_("aftercare-arranged"),
    N_("registering-professionals-told"),
    # sectors
    N_("youth-care"),
    N_("education"),
    N_("police"),
    N_("youth-work"),
    N_("municipal-team"),
    N_("youth-protection"),
    N_("veilig-thuis"),
    N_("health-care"),
    N_("municipality"),
    # consent vocabulary
    N_("given"),
    N_("refused"),
    N_("youth"),
    N_("parent"),
    N_("guardian"),
    N_("care-coordination"),
    N_("safety-assessment"),
    N_("education-support"),
    N_("care"),
    N_("safety"),
    N_("health"),
    N_("justice"),
    N_("outgoing"),
    N_("incoming"),
    N_("both"),
    N_("oral"),
    N_("written"),
    N_("digital"),
    # API key roles, webhook message states and delivery outcomes
    N_("professional"),
    N_("reviewer"),
    N_("pending"),
    N_("delivered"),
    N_("dead"),
    N_("retry"),
    N_("disable-endpoint"),
]


POSTPONE_REASONS = [
    N_("safety_youth"),
    N_("safety_others"),
    N_("unreachable"),
    N_("other"),
]


MEASURE_LABELS = {
    "registrations_made": N_("Registrations made"),
    "registrations_ended_unjustified": N_("Registrations ended: unjustified"),
    "registrations_ended_risk_resolved": N_("Registrations ended: risk resolved"),
    "registrations_ended_deceased": N_("Registrations ended: deceased"),
    "registrations_ended_other": N_("Registrations ended: other reason"),
    "registrations_ended_expired": N_("Registrations ended: term expired"),
    "registrations_ended_erasure": N_("Registrations ended: erased on request"),
    "registrations_active": N_("Registrations active at the end of the month"),
    "matches_made": N_("Matches made"),
    "family_matches_made": N_("Family matches made"),
    "coordination_proposed": N_("Coordination proposed"),
    "coordination_accepted": N_("Coordination accepted"),
    "coordination_escalated": N_("Coordination escalated"),
    "consent_given": N_("Consent given"),
    "consent_refused": N_("Consent refused"),
    "consent_withdrawn": N_("Consent withdrawn"),
    "exchanges_care_coordination": N_("Exchanges for care coordination"),
    "exchanges_safety_assessment": N_("Exchanges for a safety assessment"),
    "exchanges_education_support": N_("Exchanges for education support"),
    "informing_informed": N_("Youth or parents informed"),
    "informing_postponed": N_("Informing postponed"),
    "coordination_days_to_accepted_median": N_("Days from match to accepted coordination (median)"),
    "coordination_days_to_accepted_p90": N_(
        "Days from match to accepted coordination (90th percentile)"
    ),
}
"""The statistics dashboard's name of each measure (docs/statistics.md, "What is counted")."""
