"""Forms of hosted Python strategies: the code (one .py file, a zip of several, or a file
edited in the browser), its entry point and its schedule. Uploaded code is checked as text
only (UTF-8, sizes, safe paths, Python syntax); it never runs in the web process."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePosixPath

from django import forms
from django.core.exceptions import ValidationError

from strategies.hosted.schedule import DAY_NAMES

MAX_FILE_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 1024 * 1024
MAX_FILES = 50
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
TEXT_SUFFIXES = {".py", ".txt", ".json", ".csv", ".yaml", ".yml", ".ini", ".cfg", ".toml", ".md"}
PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
NAME = re.compile(r"^[\w .()-]{1,80}$")


def clean_path(raw: str) -> str:
    """A relative path of plain names (no .., no absolute path, no hidden files)."""
    path = raw.replace("\\", "/").strip()
    parts = PurePosixPath(path).parts
    if path.startswith("/") or not parts or len(parts) > 4 or any(not PART.match(part) for part in parts):
        raise ValidationError(f"{raw!r} is not an allowed file name: use letters, digits, _ - . and at most "
                              "3 folders.")
    if PurePosixPath(path).suffix.lower() not in TEXT_SUFFIXES:
        raise ValidationError(f"{raw}: only Python and text files ({', '.join(sorted(TEXT_SUFFIXES))}).")
    return path


def check_source(path: str, content: str) -> None:
    if len(content.encode()) > MAX_FILE_BYTES:
        raise ValidationError(f"{path} is larger than {MAX_FILE_BYTES // 1024} KB.")
    if path.endswith(".py"):
        try:
            compile(content, path, "exec", dont_inherit=True)
        except SyntaxError as error:
            raise ValidationError(f"{path}, line {error.lineno}: {error.msg}") from error
        except (ValueError, RecursionError, MemoryError) as error:
            raise ValidationError(f"{path} is not valid Python source.") from error


def decode(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(f"{path} is not UTF-8 text.") from error


def read_upload(upload) -> dict[str, str]:
    """The files of an upload: one .py file, or a .zip of several (one top folder is dropped)."""
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The upload is larger than {MAX_UPLOAD_BYTES // 2**20} MB.")
    name = PurePosixPath(upload.name or "").name
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if name.lower().endswith(".py"):
        path = clean_path(name)
        content = decode(path, data)
        check_source(path, content)
        return {path: content}
    if not name.lower().endswith(".zip"):
        raise ValidationError("Upload a .py file or a .zip of your strategy's files.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        for info in archive.infolist():
            if info.filename.startswith("/") or ".." in PurePosixPath(info.filename).parts:
                raise ValidationError(f"{info.filename!r} is not an allowed file name: no absolute paths or '..'.")
        entries = [info for info in archive.infolist() if not info.is_dir()
                   and not info.filename.startswith("__MACOSX/") and "/." not in "/" + info.filename
                   and not info.filename.endswith(".pyc") and "__pycache__/" not in info.filename]
    except (zipfile.BadZipFile, ValueError) as error:
        raise ValidationError("That zip file cannot be read.") from error
    if not entries:
        raise ValidationError("The zip file holds no files.")
    if len(entries) > MAX_FILES:
        raise ValidationError(f"The zip file holds more than {MAX_FILES} files.")
    if sum(info.file_size for info in entries) > MAX_TOTAL_BYTES:
        raise ValidationError(f"The zip file's contents are larger than {MAX_TOTAL_BYTES // 2**20} MB.")
    tops = {info.filename.split("/", 1)[0] for info in entries}
    strip = len(tops) == 1 and all("/" in info.filename for info in entries)
    files: dict[str, str] = {}
    for info in entries:
        clean_path(info.filename)  # the whole name is checked, before its top folder is dropped
        raw = info.filename.split("/", 1)[1] if strip else info.filename
        path = clean_path(raw)
        try:
            with archive.open(info) as member:
                data = member.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as error:
            raise ValidationError(f"{raw} cannot be read from the zip file ({error}).") from error
        content = decode(path, data)
        check_source(path, content)
        files[path] = content
    return files


def pick_entry(files: dict[str, str], wanted: str) -> str:
    entry = (wanted or "").strip() or ("main.py" if "main.py" in files else "")
    if not entry and len([path for path in files if path.endswith(".py")]) == 1:
        entry = next(path for path in files if path.endswith(".py"))
    if not entry:
        raise ValidationError("Name the file to run (the entry point): there is no main.py.")
    if entry not in files or not entry.endswith(".py"):
        raise ValidationError(f"There is no Python file {entry} to run.")
    return entry


class StyledForm(forms.Form):
    """DaisyUI classes on the widgets."""

    CLASSES = {forms.ClearableFileInput: "file-input file-input-bordered w-full", forms.Textarea:
               "textarea textarea-bordered w-full mono", forms.CheckboxInput: "checkbox",
               forms.CheckboxSelectMultiple: "checkbox"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", self.CLASSES.get(type(field.widget), "input input-bordered w-full"))


class CodeUploadForm(StyledForm):
    code = forms.FileField(label="Code (.py or .zip)", allow_empty_file=False)
    entry_point = forms.CharField(label="File to run", required=False, max_length=200,
                                  help_text="For a zip: the file to run. Default main.py.")

    def clean(self) -> dict:
        cleaned = super().clean()
        if "code" in cleaned:
            files = read_upload(cleaned["code"])
            cleaned["files"] = files
            try:
                cleaned["entry"] = pick_entry(files, cleaned.get("entry_point", ""))
            except ValidationError as error:
                self.add_error("entry_point", error)
        return cleaned


class NewStrategyForm(CodeUploadForm):
    name = forms.CharField(max_length=80)
    field_order = ["name", "code", "entry_point"]

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not NAME.match(name):
            raise ValidationError("Use letters, digits, spaces and _ - . ( ) only.")
        if self.user is not None and self.user.hosted_strategies.filter(name=name).exists():
            raise ValidationError("You already have a strategy of that name.")
        return name


class EditFileForm(StyledForm):
    path = forms.CharField(max_length=200, label="File")
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}), required=False,
                              strip=False, max_length=MAX_FILE_BYTES)
    entry = forms.BooleanField(required=False, label="Run this file (entry point)")

    def clean(self) -> dict:
        cleaned = super().clean()
        if "path" in cleaned:
            try:
                cleaned["path"] = clean_path(cleaned["path"])
            except ValidationError as error:
                self.add_error("path", error)
                return cleaned
            content = cleaned.get("content", "").replace("\r\n", "\n")
            cleaned["content"] = content
            try:
                check_source(cleaned["path"], content)
            except ValidationError as error:
                self.add_error("content", error)
            if cleaned.get("entry") and not cleaned["path"].endswith(".py"):
                self.add_error("entry", "Only a .py file can be run.")
        return cleaned


class ScheduleForm(StyledForm):
    always_on = forms.BooleanField(required=False, label="24/7 (markets that never close)")
    days = forms.TypedMultipleChoiceField(choices=list(enumerate(DAY_NAMES)), coerce=int, required=False,
                                          widget=forms.CheckboxSelectMultiple)
    window_start = forms.TimeField(label="From (IST)", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    window_end = forms.TimeField(label="To (IST)", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                 help_text="An end before the start runs overnight into the next day.")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("always_on"):
            if not cleaned.get("days"):
                self.add_error("days", "Pick at least one day, or run it 24/7.")
            if cleaned.get("window_start") is not None and cleaned.get("window_start") == cleaned.get("window_end"):
                self.add_error("window_end", "The window needs an end different from its start (or run it 24/7).")
        return cleaned
