"""Text to padded integer sequences, as keras.preprocessing: no autograd needed here."""
