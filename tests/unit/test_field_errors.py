"""Body validation messages become {field: message} for the API's 400 answers."""

from service.app import field_errors


def test_a_wrong_type_names_the_field():
    extra = [{"message": "Expected `str`, got `int` - at `$.title`", "key": "data",
              "source": "body"}]
    assert field_errors(extra) == {"title": "Expected `str`, got `int`"}


def test_a_missing_or_unknown_field_names_it():
    extra = [{"message": "Object missing required field `aim`", "key": "data", "source": "body"},
             {"message": "Object contains unknown field `tittle`", "key": "data",
              "source": "body"}]
    assert field_errors(extra) == {"aim": "Object missing required field `aim`",
                                   "tittle": "Object contains unknown field `tittle`"}


def test_a_nested_field_keeps_its_path():
    extra = [{"message": "Expected `str`, got `null` - at `$.team[1].name`", "source": "body"}]
    assert field_errors(extra) == {"team[1].name": "Expected `str`, got `null`"}


def test_a_query_parameter_is_named_by_its_key():
    extra = [{"message": "Expected `int`, got `str`", "key": "version", "source": "query"}]
    assert field_errors(extra) == {"version": "Expected `int`, got `str`"}


def test_a_body_that_is_not_json_is_reported_on_the_body():
    assert field_errors([{"message": "JSON is malformed: invalid character"}]) == {
        "body": "JSON is malformed: invalid character"}


def test_errors_already_by_field_are_kept():
    assert field_errors({"If-Match": "must be a version number"}) == {
        "If-Match": "must be a version number"}
