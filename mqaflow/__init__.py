"""Accounts, engagement and qualification: the MQA domain (configuration lives in config/)."""
