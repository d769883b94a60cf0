"""How hubspoke reaches each AWS account: one Airflow connection per account."""
