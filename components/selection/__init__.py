"""Selection: the checkpoint of the day to put up for blessing, chosen on validation only."""
