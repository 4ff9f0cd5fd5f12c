"""Text tools that need no autograd: Keras 2's Tokenizer and pad_sequences (keras.preprocessing),
and the tokens and vocabulary behind the TextVectorization layer."""
