"""The breast-cancer model: diagnostic data set, step scripts and serving functions."""
