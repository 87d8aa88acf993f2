"""The posture as IAM documents: deny policies and SCPs, the data-access role, key
policies, the fleet posture's reader policy."""
