"""The paper's stratified analysis: where does reward guidance help, and can the ranker tell?"""
