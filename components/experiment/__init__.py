"""The comparison of every training method on one day, from one SFT run, over seeds."""
