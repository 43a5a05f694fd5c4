"""THE architecture table: every name maps one way, every boot image to a family."""

from nitools.routeros.archs import (
    BOOT_IMAGES,
    FAMILIES,
    boot_image_by_id,
    boot_image_by_name,
    family_for_announcement,
    family_for_package,
    package_fits_board,
)


def test_every_string_belongs_to_one_family_only():
    for attribute in ("npk_arches", "announced"):
        seen = [text for family in FAMILIES for text in getattr(family, attribute)]
        assert len(seen) == len(set(seen)), attribute


def test_every_boot_image_installs_a_known_family_and_has_unique_ids_and_classes():
    names = {family.name for family in FAMILIES}
    assert all(image.family in names for image in BOOT_IMAGES)
    ids = [image.resource_id for image in BOOT_IMAGES]
    classes = [c for image in BOOT_IMAGES for c in image.vendor_classes]
    assert len(ids) == len(set(ids)) and len(classes) == len(set(classes))
    assert boot_image_by_id(139) is boot_image_by_name("arm64")
    assert boot_image_by_name("arm64").boot_file == "netinstall.arm64"


def test_lookups_ignore_case_and_spaces_and_know_the_old_names():
    assert family_for_announcement(" ARM64 ").name == "arm64"
    assert family_for_announcement("mips").name == "mipsbe"
    assert family_for_package("i386").name == "x86"
    assert family_for_announcement("made-up") is None


def test_a_package_fits_a_board_of_its_family_only():
    assert package_fits_board("mips", "mipsbe") is True  # a v6 bundle's name for mipsbe
    assert package_fits_board("arm", "arm64") is False
    assert package_fits_board("smips", "mipsbe") is False  # smips boards need smips
    assert package_fits_board("arm", "unknown") is None
