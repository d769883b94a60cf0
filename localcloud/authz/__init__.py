"""Authorization for localcloud: which IAM action and resource each request is, and whether
the caller may do it (evaluated with ``hubspoke.iam``)."""
