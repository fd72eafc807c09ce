"""DATA SCIENTIST OWNED: business rules for a day of hourly weather and calendar."""

SEASONS = ["winter", "spring", "summer", "fall"]


def expectations() -> list:
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(max_value=24),
        gxe.ExpectColumnValuesToBeBetween(column="hour", min_value=0, max_value=23),
        gxe.ExpectColumnValuesToBeInSet(column="season", value_set=SEASONS),
        gxe.ExpectColumnValuesToBeInSet(column="weather", value_set=[1, 2, 3, 4]),
        gxe.ExpectColumnValuesToBeBetween(column="temp_c", min_value=-30, max_value=50),
        gxe.ExpectColumnValuesToBeBetween(column="humidity", min_value=0, max_value=1),
        gxe.ExpectColumnValuesToBeBetween(column="windspeed", min_value=0, max_value=120),
    ]
