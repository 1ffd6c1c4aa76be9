"""The A/B readout: did the challenger beat the champion on what users did?"""
