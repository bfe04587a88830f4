"""The pages of core, one module per feature: signing in (signin), one's own account (account),
people administration (people), the audit trail (audit) and notifications. Views parse, call
`services` and the permission checks, and render; the rules live there."""
