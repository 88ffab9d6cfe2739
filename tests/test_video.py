"""typedrl eval --video: Gymnasium's RecordVideo writes one mp4 file per greedy episode, the returns unchanged."""

import subprocess
import sys
import warnings
from pathlib import Path

import torch
from moviepy import VideoFileClip
from torch import nn

from typedrl.evaluation import evaluate


def _actor() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def test_one_cartpole_episode_is_recorded_frame_for_frame(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    recorded = evaluate(_actor(), "CartPole-v1", episodes=1, base_seed=3, max_steps=500, video_dir=videos)
    plain = evaluate(_actor(), "CartPole-v1", episodes=1, base_seed=3, max_steps=500)
    assert recorded == plain
    files = sorted(videos.iterdir())
    assert [file.name for file in files] == ["CartPole-v1-seed-3-episode-0.mp4"]
    with VideoFileClip(str(files[0])) as clip:
        frames = sum(1 for _ in clip.iter_frames())
        assert clip.size == [600, 400]  # CartPole's rgb_array frame, width x height
    assert frames == recorded.lengths[0] + 1  # the reset frame and one per step


def test_the_command_line_records_every_episode(tmp_path: Path) -> None:
    run = tmp_path / "run"
    flags = ["--updates", "1", "--eval-episodes", "2", "--eval-max-steps", "30", "--quiet", "--out", str(run)]
    train = subprocess.run(
        [sys.executable, "-m", "typedrl", "ppo", *flags], capture_output=True, text=True, timeout=300, check=False
    )
    assert train.returncode == 0, train.stderr
    result = subprocess.run(
        [sys.executable, "-m", "typedrl", "eval", str(run), "--video", str(tmp_path / "v")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"videos: {tmp_path / 'v'}"
    names = sorted(path.name for path in (tmp_path / "v").iterdir())
    assert names == ["CartPole-v1-seed-10000-episode-0.mp4", "CartPole-v1-seed-10001-episode-0.mp4"]


def test_several_episodes_share_the_folder_without_warnings(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate(_actor(), "CartPole-v1", episodes=3, base_seed=0, max_steps=20, video_dir=tmp_path / "videos")
    assert not [warning for warning in caught if "Overwriting existing videos" in str(warning.message)]
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 3
