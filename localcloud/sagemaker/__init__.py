"""SageMaker as localcloud adds it to moto: the APIs moto lacks, with AWS's shapes."""
