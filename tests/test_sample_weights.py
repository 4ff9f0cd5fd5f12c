"""sample_weight and class_weight as Keras 3 weighs them: each sample's loss times its weight, summed and
divided by the number of samples (not by the sum of the weights); metrics unweighted, weighted_metrics
weighted; epoch logs averaged over batches by their sizes; clear errors for weights that cannot apply."""
import numpy as np
import pytest

from tinygrad_embed.data import Dataset
from tinygrad_embed.layers import Dense, Input
from tinygrad_embed.models import Model, Sequential
from tinygrad_embed.optimizers import SGD
from tinygrad_embed.utils import set_random_seed

RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 4)).astype(np.float32)
LABELS = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 1, 1, 2])
WEIGHTS = RNG.random(12).astype(np.float32) * 3


def classifier(seed=0, **compile_settings):
    set_random_seed(seed)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer=SGD(0.5), **{"loss": "sparse_categorical_crossentropy", **compile_settings})
    return model


def each_sample_loss(model):
    return -np.log(model.predict(X)[np.arange(12), LABELS])


def test_the_loss_is_the_weighted_sum_over_the_number_of_samples():
    model = classifier()
    loss = model.evaluate(X, LABELS, sample_weight=WEIGHTS, batch_size=5, verbose=0)
    np.testing.assert_allclose(loss, (WEIGHTS * each_sample_loss(model)).sum() / 12, rtol=1e-5)


def test_batches_of_different_sizes_are_averaged_by_size():
    model = classifier(metrics=["accuracy"])
    in_one = model.evaluate(X, LABELS, sample_weight=WEIGHTS, batch_size=12, verbose=0)
    in_three = model.evaluate(X, LABELS, sample_weight=WEIGHTS, batch_size=5, verbose=0)  # 5, 5 and 2
    np.testing.assert_allclose(in_three, in_one, rtol=1e-6)


def test_metrics_ignore_the_weights_and_weighted_metrics_use_them():
    model = classifier(metrics=["accuracy"], weighted_metrics=["accuracy"])
    logs = model.evaluate(X, LABELS, sample_weight=WEIGHTS, verbose=0, return_dict=True)
    right = model.predict(X).argmax(-1) == LABELS
    assert logs["accuracy"] == pytest.approx(right.mean())
    assert logs["weighted_accuracy"] == pytest.approx((WEIGHTS * right).sum() / WEIGHTS.sum())


def test_class_weight_trains_as_the_sample_weights_of_each_class():
    class_weight = {0: 1.0, 1: 4.0, 2: 0.25}
    by_class = classifier()
    by_class.fit(X, LABELS, class_weight=class_weight, epochs=3, batch_size=5, shuffle=False, verbose=0)
    by_sample = classifier()
    by_sample.fit(X, LABELS, sample_weight=np.array([class_weight[c] for c in LABELS]), epochs=3, batch_size=5,
                  shuffle=False, verbose=0)
    for a, b in zip(by_class.get_weights(), by_sample.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_class_weight_reads_one_hot_rows_and_leaves_unnamed_classes_at_one():
    one_hot = classifier(loss="categorical_crossentropy")
    one_hot.fit(X, np.eye(3)[LABELS], class_weight={1: 3.0}, epochs=2, batch_size=5, shuffle=False, verbose=0)
    plain = classifier(loss="categorical_crossentropy")
    plain.fit(X, np.eye(3)[LABELS], sample_weight=np.where(LABELS == 1, 3.0, 1.0), epochs=2, batch_size=5,
              shuffle=False, verbose=0)
    for a, b in zip(one_hot.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_dataset_of_x_y_weights_equals_the_arrays():
    dataset = Dataset.from_tensor_slices((X, LABELS, WEIGHTS)).batch(5)
    from_arrays, from_dataset = classifier(), classifier()
    arrays = from_arrays.fit(X, LABELS, sample_weight=WEIGHTS, batch_size=5, epochs=2, shuffle=False, verbose=0,
                             validation_data=(X, LABELS, WEIGHTS))
    streamed = from_dataset.fit(dataset, epochs=2, verbose=0, validation_data=dataset)
    assert arrays.history == streamed.history
    assert arrays.history["val_loss"] != arrays.history["loss"]  # the validation weights count


def test_validation_split_holds_out_the_weights_of_the_held_out_samples():
    model = classifier()
    history = model.fit(X, LABELS, sample_weight=WEIGHTS, validation_split=0.25, epochs=1, verbose=0)
    held_out = -np.log(model.predict(X[9:])[np.arange(3), LABELS[9:]])
    assert history.history["val_loss"][0] == pytest.approx((WEIGHTS[9:] * held_out).sum() / 3, rel=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda m: m.fit(X, LABELS, sample_weight=WEIGHTS[:11], verbose=0), ValueError,
     "sample_weight holds 11 weights but x holds 12 samples"),
    (lambda m: m.evaluate(X, LABELS, sample_weight=WEIGHTS[:11], verbose=0), ValueError, "holds 11 weights"),
    (lambda m: m.train_on_batch(X, LABELS, sample_weight=np.ones(13)), ValueError, "holds 13 weights"),
    (lambda m: m.fit(X, LABELS, class_weight={0: 1.0, 3: 2.0}, verbose=0), ValueError,
     r"class_weight names class 3, which the targets never take \(their classes: \[0, 1, 2\]\)"),
    (lambda m: m.fit(X, LABELS, class_weight={"cat": 2.0}, verbose=0), TypeError,
     "class indices .integers., got 'cat'"),
    (lambda m: m.fit(X, LABELS, class_weight=[1.0, 2.0, 3.0], verbose=0), TypeError, "must be a dict"),
    (lambda m: m.fit(X, LABELS, sample_weight=WEIGHTS, class_weight={0: 2.0}, verbose=0), ValueError,
     "sample_weight or class_weight, not both"),
    (lambda m: m.fit(X, LABELS, sample_weight=np.where(WEIGHTS > 1, np.nan, 1.0), verbose=0), ValueError,
     "sample_weight contains NaN"),
])
def test_weights_that_cannot_apply_are_refused_before_training(call, error, match):
    model = classifier()
    before = model.get_weights()
    with pytest.raises(error, match=match):
        call(model)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_class_weight_is_for_one_output():
    inputs = Input((4,))
    model = Model(inputs, [Dense(3, name="first")(inputs), Dense(3, name="second")(inputs)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="class_weight is for models with one output"):
        model.fit(X, [LABELS, LABELS], class_weight={0: 2.0}, verbose=0)


def test_one_weights_array_weighs_every_output():
    inputs = Input((4,))
    model = Model(inputs, [Dense(2, name="first")(inputs), Dense(2, name="second")(inputs)])
    model.compile(optimizer="sgd", loss="mse")
    y = [np.zeros((12, 2)), np.ones((12, 2))]
    shared = model.evaluate(X, y, sample_weight=WEIGHTS, verbose=0, return_dict=True)
    apart = model.evaluate(X, y, sample_weight={"first": WEIGHTS, "second": WEIGHTS}, verbose=0, return_dict=True)
    unweighted = model.evaluate(X, y, verbose=0, return_dict=True)
    assert shared == apart and shared["first_loss"] != unweighted["first_loss"]


def test_class_weight_weighs_the_batches_of_a_dataset_too():
    class_weight = {0: 2.0, 2: 0.5}
    from_arrays, from_dataset = classifier(), classifier()
    from_arrays.fit(X, LABELS, class_weight=class_weight, batch_size=5, epochs=2, shuffle=False, verbose=0)
    from_dataset.fit(Dataset.from_tensor_slices((X, LABELS)).batch(5), class_weight=class_weight, epochs=2, verbose=0)
    for a, b in zip(from_arrays.get_weights(), from_dataset.get_weights()):
        np.testing.assert_array_equal(a, b)
