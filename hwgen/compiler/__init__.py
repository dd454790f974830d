"""Compiler: folding, lowering to a chain of engines, FIFO sizing, the top level, Verilog."""
