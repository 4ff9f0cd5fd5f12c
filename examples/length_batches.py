"""Batches of reviews of similar length, for `examples/imdb_lstm.py --fast`: a Keras 3 PyDataset.

Padded to 500 words, 56% of the time steps of an IMDB training epoch are padding: the median review is
175 ids long (its start mark included), and 8% are longer than 500. With Embedding(mask_zero=True) the
LSTM skips a padded row's steps, but a batch still runs as many steps as its longest review (in a batch of
64 drawn at random, nearly always 500), and a step with few active rows does not cost proportionally less
(BLAS is most efficient on whole blocks of rows). So: cut each review to its last `maxlen` words ("pre",
as pad_sequences does; maxlen=None keeps every review whole), sort the reviews by length, cut the sorted
list into batches, and pad each batch ("pre") only to its own longest review. Neighbours in the sorted
list differ by a word or two, so almost nothing is padding (0.3% of the steps of the 25,000 training
reviews).

Each epoch (on_epoch_end, with the run's seed) draws a new order: reviews of equal length are shuffled
among themselves before the sort, so the batches are not the same groups every epoch, and the batches
are shuffled, so the lengths do not come from short to long. Only Keras's API is used: with `keras` for
`tinygrad_embed` in the import, the same class runs in Keras 3.
"""
import numpy as np

from tinygrad_embed.utils import PyDataset, pad_sequences


class LengthBatches(PyDataset):
    """Reviews (lists of word ids) and their labels, in batches of reviews of similar length, each
    batch padded at the front to its longest. shuffle=False keeps one order (short to long): for
    evaluation."""

    def __init__(self, reviews, labels, batch_size=64, maxlen=500, seed=None, shuffle=True, **kwargs):
        super().__init__(**kwargs)
        self.reviews = [np.asarray(review if maxlen is None else review[-maxlen:], dtype="int32")  # the last words
                        for review in reviews]
        self.lengths = np.array([len(review) for review in self.reviews])
        self.labels = np.asarray(labels, dtype="float32")
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()  # the first epoch's batches

    def __len__(self):
        return -(-len(self.reviews) // self.batch_size)

    def __getitem__(self, index):
        rows = self.batches[index]
        return pad_sequences([self.reviews[i] for i in rows], padding="pre"), self.labels[rows]

    def on_epoch_end(self):
        """The next epoch's batches: ties in length broken by a new draw, then the batches in a new order."""
        order = self.rng.permutation(len(self.reviews)) if self.shuffle else np.arange(len(self.reviews))
        order = order[np.argsort(self.lengths[order], kind="stable")]
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in self.rng.permutation(len(batches))]
        self.batches = batches

    def padding_fraction(self):
        """The share of the time steps of one epoch's batches that are padding."""
        steps = sum(len(rows) * self.lengths[rows].max() for rows in self.batches)
        return 1 - self.lengths.sum() / steps
