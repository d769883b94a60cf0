"""Local SageMaker runtime: run step scripts under the container contract."""
